"""Sessions (who is calling, saved in the store), sign-in with auth modules, and the session cookie."""
