"""Several nodes on one database: who this node is, and how it hears of other nodes' work."""
