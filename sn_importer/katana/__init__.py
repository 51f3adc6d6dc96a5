"""The Katana layer: the client, its pacing and retries, the shared quota, trusted lists, lookups.

Only facts that cost nothing to import live here: the rest loads when a run
talks to Katana, so an offline ``validate`` never loads httpx.
"""

#: The API's largest page (``limit``): every list is read in pages of this size, and every cost counts them.
PAGE_LIMIT = 250
