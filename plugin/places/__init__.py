"""Where and when: each photo's place (offline reverse geocoding of its GPS) and events (photos close in time)."""
