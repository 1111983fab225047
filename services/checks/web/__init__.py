"""Pages and the HTTP API: routes, what only they compute, templates, the OpenAPI document."""
