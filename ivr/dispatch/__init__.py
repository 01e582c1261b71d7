"""Where each message goes once it is taken: the client's webhook (HTTPS POST, signed, once
per success through the outbox), with the emails and the daily report as the dispatch rules
of the client's file say; a text-message provider interface (no provider is built in)."""
