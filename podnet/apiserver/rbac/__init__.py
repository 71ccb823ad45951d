"""Role-based access control, as kube-apiserver's RBAC authorizer.

``rules``: request attributes and the rule matchers; ``resolver``: which rules a user
has (bindings, roles, aggregation); ``authorizer``: the verdict and the 403 Status;
``impersonation``: ``Impersonate-*`` headers; ``reviews``: the access and token
review kinds, answered and never stored; ``bootstrap``: the default roles.
"""
