"""HorizontalPodAutoscaler's API side: autoscaling/v2 stored, autoscaling/v1 served by
conversion (:mod:`.convert`, pkg/apis/autoscaling/v1/conversion.go), defaults and
validation (:mod:`.hpa`, pkg/apis/autoscaling/v2/defaults.go and
pkg/apis/autoscaling/validation/validation.go); the v1 endpoints are
:mod:`podnet.apiserver.http.hpa_v1`.
The controller is :mod:`podnet.controllers.autoscaling`."""
