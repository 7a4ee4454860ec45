"""The management app: the operators' pages (login, dashboard), server-rendered with htmx."""
