"""Where photos come from: a mounted folder now, Nextcloud/WebDAV later."""
