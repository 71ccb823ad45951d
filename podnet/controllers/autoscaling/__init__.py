"""The horizontal pod autoscaler (pkg/controller/podautoscaler): the replica
arithmetic as pure functions (:mod:`.replicas`, replica_calculator.go and the
normalization of horizontal.go) and the controller that reads metrics and scales
(:mod:`.horizontal`)."""
