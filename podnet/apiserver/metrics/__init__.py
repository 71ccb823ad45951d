"""metrics.k8s.io/v1beta1 served in-process, as metrics-server serves it for k3s and
minikube (kubernetes-sigs/metrics-server): a sampler of the containers' processes
(:mod:`.proc`), a storage of the last two points per container turned into rates
(:mod:`.storage`, metrics-server pkg/storage) and the NodeMetrics/PodMetrics objects,
their lists and Tables (:mod:`.serve`, metrics-server pkg/api).

podnet makes no cgroups, so a container's usage is its process tree's: CPU from
utime+stime (+ the reaped children's cutime+cstime) in ``/proc/<pid>/stat``, the working
set from the tree's RSS. A node's usage is the sum of its pods'.
"""
