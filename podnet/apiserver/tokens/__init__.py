"""ServiceAccount tokens, as kube-apiserver issues and checks them.

:mod:`.keys` keeps the signing key (kubeadm's ``pki/sa.key``), :mod:`.jws` signs and
verifies compact JWTs, :mod:`.claims` makes and reads their claims
(pkg/serviceaccount/claims.go), :mod:`.issuer` is the TokenRequest subresource and the
token authenticator (pkg/serviceaccount/jwt.go), :mod:`.legacy` fills token Secrets
(pkg/controller/serviceaccount/tokens_controller.go) and :mod:`.oidc` serves the
issuer's discovery documents (pkg/serviceaccount/openidmetadata.go).
"""
