"""CustomResourceDefinitions and the custom resources they define, as
apiextensions-apiserver serves them (staging/src/k8s.io/apiextensions-apiserver).

``definition``: validating a CRD, its accepted names and conditions, the resources an
Established one serves (kept in :func:`podnet.apiserver.resources.set_custom`, set by
:mod:`podnet.controllers.crdstatus`). ``schema``: a version's structural schema applied
to custom resources (pruning, defaulting, validation). ``custom``: the per-request
rules the registry reaches through validation and strategy. ``jsonpath``: the
additionalPrinterColumns' cells.
"""
