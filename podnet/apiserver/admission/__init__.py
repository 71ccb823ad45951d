"""Admission and kind-specific validation of the kinds without a manifests-layer model
(CronJob, Ingress, IngressClass, PodDisruptionBudget, PriorityClass), as kube-apiserver's
admission plugins and ``pkg/apis/*/validation`` do; entered from
:func:`podnet.apiserver.defaults.admit`."""
