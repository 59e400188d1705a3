"""Writing piccl's results back into the user's library: XMP sidecars (Nextcloud tags to come)."""
