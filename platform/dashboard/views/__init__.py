"""Dashboard pages and their JSON API, one module per feature (urls.py names them)."""
