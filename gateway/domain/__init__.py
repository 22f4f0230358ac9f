"""The bottom layer: domain rules and storage, one folder per concern. Imports neither aiohttp nor
strawberry; functions take plain arguments and an async session, never a request."""
