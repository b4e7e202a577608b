"""The store's SQL, one module per group of operations. Each module holds one mixin of
:class:`db.session.Tx`, so callers ask a transaction in domain words (``tx.get_node``, ``tx.edge_ends``)
and never build a query themselves."""
