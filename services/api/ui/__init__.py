"""The operator and partner dashboard: server-rendered pages, session sign-in, static assets (no build step)."""
