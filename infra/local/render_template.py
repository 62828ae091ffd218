#!/usr/bin/env python3
"""Render template.yaml to plain CloudFormation and lint the result, state machines included.

cfn-lint checks the SAM template at SAM level and does not look inside state machine definitions
kept in separate files. This script inlines every `DefinitionUri` file as `Definition`, gives the
substitutions dummy ARNs, the functions a placeholder code location, expands the SAM transform offline with aws-sam-translator,
and runs cfn-lint on the plain CloudFormation it produces.

Usage: python infra/local/render_template.py [--keep PATH]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from cfnlint.decode import cfn_yaml
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[2]


class NoManagedPolicies:
    """Resolves managed policy names without calling IAM (the template uses none by name)."""

    def load(self):
        return {}


def plain(value):
    """cfn-lint's YAML nodes as plain Python values."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def prepare(template):
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::StateMachine" and "DefinitionUri" in props:
            text = (ROOT / props.pop("DefinitionUri")).read_text()
            for name in props.pop("DefinitionSubstitutions", {}):
                dummy = (
                    f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
                    if name.endswith("StateMachineArn")
                    else f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
                )
                text = text.replace("${" + name + "}", dummy)
            props["Definition"] = json.loads(text)
        if resource.get("Type") == "AWS::Serverless::Function":
            props["CodeUri"] = "s3://placeholder-bucket/function.zip"
    globals_fn = template.get("Globals", {}).get("Function", {})
    if "CodeUri" in globals_fn:
        globals_fn["CodeUri"] = "s3://placeholder-bucket/function.zip"
    return template


def flatten_definitions(rendered):
    """Joins a definition the translator split into lines back into one string (all parts are text)."""
    for resource in rendered["Resources"].values():
        props = resource.get("Properties", {})
        joined = props.get("DefinitionString")
        if isinstance(joined, dict) and "Fn::Join" in joined:
            separator, parts = joined["Fn::Join"]
            if all(isinstance(p, str) for p in parts):
                props["DefinitionString"] = separator.join(parts)
    return rendered


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="also write the rendered template here")
    args = parser.parse_args()
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    template = prepare(plain(cfn_yaml.load(str(ROOT / "template.yaml"))))
    rendered = flatten_definitions(transform(template, {}, NoManagedPolicies()))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep) if args.keep else Path(tmp) / "rendered.json"
        out.write_text(json.dumps(rendered, indent=1))
        lint = [str(Path(sys.executable).parent / "cfn-lint"), str(out)]
        result = subprocess.run(lint, env=os.environ.copy())
    if result.returncode == 0:
        print(f"rendered template: {len(rendered['Resources'])} resources, cfn-lint clean")
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
