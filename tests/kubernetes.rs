//! deploy/kubernetes validated offline: `yamllint`, `kubernetes-validate
//! --strict` (PyPI; it ships the API schemas), and the rules the manifests
//! promise checked on the parsed objects: every container runs the image's
//! entrypoint with one of its subcommands, as non-root on a read-only root
//! with no capabilities and no emptyDir, and the environment they set is
//! the environment the scripts read.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::*;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes")
}

/// Every YAML document in `path`, as JSON (PyYAML, which kubernetes-validate
/// brings, does the parsing).
fn documents(path: &Path) -> Vec<Value> {
    let out = run(
        "python3",
        &[
            "-c",
            "import json, sys, yaml; print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d]))",
            path.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

/// The kustomizations and the resource files they list.
fn kustomized() -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for dir in [deploy(), deploy().join("restore")] {
        let kustomization = &documents(&dir.join("kustomization.yaml"))[0];
        assert_eq!(kustomization["images"][0]["name"], "s3pipe");
        for file in kustomization["resources"].as_array().unwrap() {
            let path = dir.join(file.as_str().unwrap());
            for doc in documents(&path) {
                out.push((path.clone(), doc));
            }
        }
    }
    out
}

fn pod_specs() -> Vec<(String, Value)> {
    kustomized()
        .into_iter()
        .filter_map(|(_, doc)| {
            let name = doc["metadata"]["name"].as_str().unwrap().to_string();
            let pod = match doc["kind"].as_str().unwrap() {
                "CronJob" => doc["spec"]["jobTemplate"]["spec"]["template"]["spec"].clone(),
                "Job" => doc["spec"]["template"]["spec"].clone(),
                _ => return None,
            };
            Some((name, pod))
        })
        .collect()
}

fn containers(pod: &Value) -> Vec<Value> {
    ["initContainers", "containers"]
        .iter()
        .flat_map(|k| pod[k].as_array().cloned().unwrap_or_default())
        .collect()
}

#[test]
fn yamllint_and_kubernetes_validate_strict_pass() {
    let lint = run("yamllint", &["--strict", deploy().to_str().unwrap()], b"");
    assert_eq!(code(&lint), 0, "{}", String::from_utf8_lossy(&lint.stdout));
    let files: BTreeSet<PathBuf> = kustomized().into_iter().map(|(p, _)| p).collect();
    assert!(files.len() >= 5, "{files:?}");
    let mut validate = Command::new("kubernetes-validate");
    validate.arg("--strict").args(&files);
    let out = validate.output().unwrap();
    assert_eq!(
        code(&out),
        0,
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    // Every manifest in the directory is listed by a kustomization.
    for entry in fs::read_dir(deploy()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") && !path.ends_with("kustomization.yaml") {
            assert!(
                files.contains(&path),
                "{} is in no kustomization",
                path.display()
            );
        }
    }
}

#[test]
fn every_container_is_locked_down_and_runs_an_entrypoint_subcommand() {
    let entrypoint =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/entrypoint.sh"))
            .unwrap();
    let pods = pod_specs();
    let names: Vec<&str> = pods.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "s3pipe-backup",
            "s3pipe-maintenance",
            "s3pipe-verify",
            "s3pipe-restore"
        ]
    );
    let mut commands = BTreeSet::new();
    for (name, pod) in &pods {
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
        assert_eq!(pod["securityContext"]["runAsUser"], 10001, "{name}");
        assert_eq!(pod["serviceAccountName"], "s3pipe", "{name}");
        for volume in pod["volumes"].as_array().cloned().unwrap_or_default() {
            assert!(volume.get("emptyDir").is_none(), "{name}: {volume}");
        }
        for c in containers(pod) {
            let ctx = &c["securityContext"];
            assert_eq!(ctx["readOnlyRootFilesystem"], true, "{name}: {c}");
            assert_eq!(ctx["allowPrivilegeEscalation"], false, "{name}: {c}");
            assert_eq!(ctx["capabilities"]["drop"][0], "ALL", "{name}: {c}");
            assert_eq!(c["image"], "s3pipe", "{name}: set by the kustomization");
            assert!(c["resources"]["limits"]["memory"].is_string(), "{name}");
            let command = c["args"][0].as_str().unwrap().to_string();
            assert!(
                entrypoint.contains(&format!("\n  {command})\n")),
                "{name}: entrypoint.sh has no subcommand {command}"
            );
            commands.insert(command);
        }
    }
    let expected = ["backup", "cleanup-uploads", "prune", "restore", "verify"];
    assert_eq!(commands.into_iter().collect::<Vec<_>>(), expected);
}

/// The names the manifests set (the ConfigMap's literals and any `env`)
/// are all read by the scripts, and the required ones are set.
#[test]
fn the_environment_set_is_the_environment_the_scripts_read() {
    let scripts: String = ["entrypoint.sh", "backup.sh", "restore.sh", "lib.sh"]
        .iter()
        .map(|s| {
            fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("scripts")
                    .join(s),
            )
            .unwrap()
        })
        .collect();
    let kustomization = &documents(&deploy().join("kustomization.yaml"))[0];
    let mut set: BTreeSet<String> = kustomization["configMapGenerator"][0]["literals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().split('=').next().unwrap().to_string())
        .collect();
    for (name, pod) in pod_specs() {
        for c in containers(&pod) {
            for var in c["env"].as_array().cloned().unwrap_or_default() {
                set.insert(var["name"].as_str().unwrap().to_string());
            }
            let from: Vec<&str> = c["envFrom"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| f["configMapRef"]["name"].as_str())
                .collect();
            assert_eq!(from, ["s3pipe-config"], "{name}");
        }
    }
    for var in &set {
        assert!(
            scripts.contains(&format!("${{{var}")) || scripts.contains(&format!("${var}")),
            "the manifests set {var}, which no script reads"
        );
    }
    for required in [
        "BACKUP_URL",
        "BACKUP_NAME",
        "BACKUP_BASE",
        "BACKUP_PATHS",
        "RESTORE_DIR",
    ] {
        assert!(set.contains(required), "{required} is not set");
    }
}

/// The user pages' YAML examples: whole manifests validate strictly, and every
/// environment variable they set is one the scripts read.
#[test]
fn readme_yaml_examples_validate_and_set_only_what_the_scripts_read() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = user_docs();
    let scripts: String = [
        "entrypoint.sh",
        "backup.sh",
        "restore.sh",
        "lib.sh",
        "report.sh",
    ]
    .iter()
    .map(|s| fs::read_to_string(root.join("scripts").join(s)).unwrap())
    .collect();
    let tmp = tempfile::tempdir().unwrap();
    let mut manifests = 0;
    for (i, block) in readme.split("```yaml\n").skip(1).enumerate() {
        let body = block.split("```").next().unwrap();
        let file = tmp.path().join(format!("example-{i}.yaml"));
        fs::write(&file, body).unwrap();
        let docs = documents(&file);
        if body.contains("apiVersion:") {
            let out = run(
                "kubernetes-validate",
                &["--strict", file.to_str().unwrap()],
                b"",
            );
            assert_eq!(
                code(&out),
                0,
                "{body}\n{}",
                String::from_utf8_lossy(&out.stdout)
            );
            manifests += 1;
        }
        let mut names = Vec::new();
        collect_env_names(&serde_json::Value::Array(docs), &mut names);
        for name in names {
            assert!(
                name.starts_with("AWS_") || scripts.contains(&format!("${{{name}")),
                "a user page's YAML sets {name}, which no script reads"
            );
        }
    }
    assert!(manifests >= 1);
}

/// Every `name:` of an env entry (an object with `name` and `value` or
/// `valueFrom`) anywhere in `v`.
fn collect_env_names(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(name)) = map.get("name")
                && (map.contains_key("value") || map.contains_key("valueFrom"))
            {
                out.push(name.clone());
            }
            map.values().for_each(|v| collect_env_names(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_env_names(v, out)),
        _ => {}
    }
}
