"""Real servers the tests run on 127.0.0.1 (WebDAV, a Nextcloud stand-in)."""
