"""What other systems may do through the HTTP API: tokens and their scopes, and the operations
(bot/api.py serves them over HTTP)."""
