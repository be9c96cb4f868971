"""Request/reply over Redis lists: the message contract, the client and the server."""
