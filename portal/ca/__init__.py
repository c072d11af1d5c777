"""The CA core: pure PKI on `cryptography`. It imports neither Flask nor SQLAlchemy."""
