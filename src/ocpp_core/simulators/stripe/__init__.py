"""A local, stateful stand-in for the slice of the Stripe API the payment gateway uses."""
