"""Serving: the HTTP API, the chat page and the ratings people leave."""
