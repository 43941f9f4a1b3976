package engine

// InboundTx holds the storage operations of inbound webhooks (issue 4); it is part of Tx.
type InboundTx interface{}
