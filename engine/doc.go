// Package engine holds Sluice's domain types (scenarios, versions, graphs,
// contacts, events, runs, steps, deliveries), the node interface and
// registry, graph validation, and the executor that moves contacts through
// scenario steps. It declares the storage and queue interfaces it calls and
// imports none of api, storage or nodes.
package engine
