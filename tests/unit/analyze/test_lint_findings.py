"""Issue 12 part 2: findings carry file:line, --disable, env-only names, self via Service."""

from __future__ import annotations

from pathlib import Path

from podnet.analyze.lint.context import build_context
from podnet.analyze.lint.finding import Finding
from podnet.analyze.lint.locate import parse_field
from podnet.analyze.lint.run import lint, lint_context, unknown_rules
from podnet.control.policy.verdict import DirectionVerdict, Verdict
from podnet.manifests import load_paths


def run(path: Path, text: str, disable: tuple[str, ...] = ()) -> tuple[Finding, ...]:
    path.write_text(text)
    return lint(load_paths([str(path)]), disable=disable)


CLIENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: client}
spec:
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      containers:
        - name: c
          image: busybox
          command: [sh, -c, "wget http://$(BACKEND_HOST)/; sleep 1d"]
          env:
            - name: BACKEND_HOST
              value: backnd
            - name: TRACING_HOST
              value: jaeger-agent
"""


def test_location_points_at_the_field_line(tmp_path: Path) -> None:
    findings = run(tmp_path / "m.yaml", CLIENT)
    by_field = {f.field: f for f in findings if f.rule == "unknown-service-name"}
    backend = by_field["spec.template.spec.containers[0].env[0].value"]
    tracing = by_field["spec.template.spec.containers[0].env[1].value"]
    assert backend.location == f"{tmp_path / 'm.yaml'}:15"
    assert tracing.location == f"{tmp_path / 'm.yaml'}:17"


def test_name_only_in_an_unused_env_var_is_a_warning_that_says_why(tmp_path: Path) -> None:
    findings = run(tmp_path / "m.yaml", CLIENT)
    sev = {f.message.split("'")[1]: f for f in findings if f.rule == "unknown-service-name"}
    # BACKEND_HOST is expanded in the command ($(BACKEND_HOST)): evidence it is dialled.
    assert sev["backnd"].severity == "error"
    assert sev["jaeger-agent"].severity == "warning"
    assert "only in environment variable TRACING_HOST" in sev["jaeger-agent"].message


def test_disable_drops_only_that_rule(tmp_path: Path) -> None:
    findings = run(tmp_path / "m.yaml", CLIENT, disable=("unknown-service-name",))
    assert not [f for f in findings if f.rule == "unknown-service-name"]
    assert unknown_rules({"pod-ip-literal", "no-such-rule"}) == ["no-such-rule"]


SELF = """\
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  containers:
    - {name: c, image: busybox, command: [sh, -c, "wget http://web:80/; wget http://web-h:80/"]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: Service
metadata: {name: web-h}
spec:
  clusterIP: None
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec:
  podSelector: {}
  policyTypes: [Ingress]
"""


def test_a_pod_reaching_itself_through_its_own_service_is_not_blocked(tmp_path: Path) -> None:
    findings = run(tmp_path / "m.yaml", SELF)
    assert not [f for f in findings if f.rule == "policy-blocks-service-use"]


def test_someone_else_through_that_service_still_is(tmp_path: Path) -> None:
    other = SELF.replace("metadata: {name: web, labels", "metadata: {name: other, labels")
    other = other.replace("{app: web}}\nspec:\n  containers", "{app: other}}\nspec:\n  containers")
    other += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: web, labels: {app: web}}\n"
    other += "spec: {containers: [{name: c, image: nginx}]}\n"
    blocked = [f for f in run(tmp_path / "m.yaml", other) if f.rule == "policy-blocks-service-use"]
    assert {f.object for f in blocked} == {"Pod/default/other"}
    assert len(blocked) == 2  # the Service and the headless name


def test_parse_field() -> None:
    assert parse_field("spec.ports[0].targetPort") == ("spec", "ports", 0, "targetPort")


def test_lint_itself_never_blames_a_pod_for_reaching_itself(tmp_path: Path) -> None:
    """Even if the engine said denied (as it did before issue 12), lint does not."""
    (tmp_path / "m.yaml").write_text(SELF)
    ctx = build_context(load_paths([str(tmp_path / "m.yaml")]))
    web = next(p for p in ctx.state.pods if p.name == "web")
    denied = DirectionVerdict("ingress", True, ("default/deny-all",), (), False, web.key, web.key)
    allowed = DirectionVerdict("egress", False, (), (), True, web.key, web.key)
    ctx._verdicts[(web.key, web.key, 80, "TCP")] = Verdict.of(allowed, denied)
    assert ctx.verdict(web, web, 80, "TCP").allowed is False  # the memo answers
    assert not [f for f in lint_context(ctx) if f.rule == "policy-blocks-service-use"]
