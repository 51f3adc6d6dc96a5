"""The Katana layer: the client, its pacing and retries, the shared quota, trusted lists, lookups."""
