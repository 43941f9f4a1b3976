package engine

// SchedulerTx holds the storage operations of date triggers and the scheduler (issue 5); it is part of Tx.
type SchedulerTx interface{}
