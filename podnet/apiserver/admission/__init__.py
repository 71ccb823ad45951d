"""Admission and kind-specific validation of the kinds without a manifests-layer model
(CronJob, Ingress, IngressClass, PodDisruptionBudget, PriorityClass; PersistentVolumeClaim,
PersistentVolume, StorageClass in :mod:`.storage` and :mod:`.storage_validation`), as
kube-apiserver's admission plugins and ``pkg/apis/*/validation`` do; entered from
:func:`podnet.apiserver.defaults.admit` and :mod:`podnet.apiserver.validation`."""
