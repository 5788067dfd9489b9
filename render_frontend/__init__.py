"""render: the front-end of renderd (submit, watch and manage jobs in a spool)."""
