"""The REST API's shared machinery (auth, errors, base viewsets) and the teams endpoints (resources.py)."""
