"""The shared provider core: request/response types, errors, client, adapters."""
