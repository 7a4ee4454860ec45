from ocpp_core.cli import main

main()
