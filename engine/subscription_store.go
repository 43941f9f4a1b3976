package engine

// SubscriptionTx holds the storage operations of event subscriptions (issue 4); it is part of Tx.
type SubscriptionTx interface{}
