"""Pod volumes on the node: emptyDir, configMap, secret, downwardAPI, projected (kubelet's
volume plugins, pkg/volume/*, cut down to one machine). README.md here."""
