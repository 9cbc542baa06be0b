#!/usr/bin/env python3
"""Checks flatpak/dev.kiln.Kiln.json without network access (Flatpak cannot fetch runtimes here).

1. flatpak-builder --show-manifest parses it into its own typed model: exit 0 and no warning
   (an unknown key, a wrong type or an unknown source type is a warning there).
2. Its structure: the GNOME runtime, the sandbox holes the GUI needs and none it must not have,
   every remote source pinned (git: tag + commit; archive: sha256), kiln last, built GUI-only
   with meson options that exist in meson_options.txt.
3. The GUI-only build the manifest asks for configures, builds and installs from this tree: the
   app, the tray, the desktop file with the sign-in callback scheme, metainfo and icon, and
   nothing of the root side (kilnd, units, D-Bus system policy).
Usage: check-flatpak-manifest.py SOURCE_ROOT
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

REQUIRED_FINISH_ARGS = {
    "--share=ipc",
    "--socket=wayland",
    "--socket=fallback-x11",
    "--device=dri",
    "--system-talk-name=dev.kiln.Tunnel",  # kilnd, installed from the .deb
    "--talk-name=org.kde.StatusNotifierWatcher",  # the tray (kiln-tray)
    "--talk-name=org.freedesktop.Notifications",
    "--talk-name=org.freedesktop.secrets",  # the token, where no Secret portal exists
}
# Holes that would undo the sandbox; the GUI needs none of them.
FORBIDDEN_FINISH_ARGS = re.compile(
    r"^--(filesystem=(host|home|/)|socket=(system-bus|session-bus|ssh-auth)|device=all|"
    r"talk-name=org\.freedesktop\.Flatpak|system-talk-name=org\.freedesktop\.DBus)"
)
BUILDSYSTEMS = {"autotools", "cmake", "cmake-ninja", "meson", "simple", "qmake"}
SOURCE_TYPES = {"archive", "git", "dir", "shell", "patch", "file"}

failures = []


def fail(msg):
    failures.append(msg)
    print(f"FAIL: {msg}")


def check_source(module, src):
    kind = src.get("type")
    where = f"module {module}: source {kind}"
    if kind not in SOURCE_TYPES:
        fail(f"{where}: unknown source type")
    elif kind == "archive":
        if not src.get("url", "").startswith("https://"):
            fail(f"{where}: url must be https")
        if not re.fullmatch(r"[0-9a-f]{64}", src.get("sha256", "")):
            fail(f"{where}: needs a sha256 of 64 hex digits")
    elif kind == "git":
        if not src.get("url", "").startswith("https://"):
            fail(f"{where}: url must be https")
        if not src.get("tag") or not re.fullmatch(r"[0-9a-f]{40}", src.get("commit", "")):
            fail(f"{where}: pin a tag and its 40-hex commit")


def meson_options(root):
    text = open(os.path.join(root, "meson_options.txt")).read()
    return set(re.findall(r"option\('([a-z_]+)'", text)) | {"werror", "buildtype", "b_sanitize"}


def check_structure(manifest, root):
    for key in ("id", "runtime", "runtime-version", "sdk", "command", "finish-args", "modules"):
        if key not in manifest:
            fail(f"missing top-level key {key}")
    if manifest.get("id") != "dev.kiln.Kiln":
        fail("id must be dev.kiln.Kiln (the desktop file and metainfo are named after it)")
    if manifest.get("runtime") != "org.gnome.Platform" or manifest.get("sdk") != "org.gnome.Sdk":
        fail("runtime/sdk must be org.gnome.Platform/org.gnome.Sdk")
    if manifest.get("command") != "kiln":
        fail("command must be kiln")
    args = manifest.get("finish-args", [])
    for arg in sorted(REQUIRED_FINISH_ARGS - set(args)):
        fail(f"finish-args lacks {arg}")
    for arg in args:
        if FORBIDDEN_FINISH_ARGS.match(arg):
            fail(f"finish-args must not have {arg}")
    modules = manifest.get("modules", [])
    names = [m.get("name") if isinstance(m, dict) else m for m in modules]
    for m in modules:
        if not isinstance(m, dict):
            fail(f"module {m}: external module files are not allowed (the check cannot see them)")
            continue
        if m.get("buildsystem", "autotools") not in BUILDSYSTEMS:
            fail(f"module {m.get('name')}: unknown buildsystem {m.get('buildsystem')}")
        if not m.get("sources"):
            fail(f"module {m.get('name')}: no sources")
        for src in m.get("sources", []):
            check_source(m.get("name"), src)
    # libayatana-appindicator needs libdbusmenu-gtk3, and, through libayatana-indicator, ayatana-ido;
    # kiln links libsodium (the key encodings), which the GNOME runtime does not promise.
    order = ["libdbusmenu-gtk3", "ayatana-ido", "libayatana-indicator", "libayatana-appindicator", "libsodium",
             "kiln"]
    if [n for n in names if n in order] != order:
        fail(f"modules must include, in this order: {', '.join(order)} (have {', '.join(map(str, names))})")
    if names and names[-1] == "kiln":
        kiln = modules[-1]
        if kiln.get("buildsystem") != "meson":
            fail("kiln: buildsystem must be meson")
        opts = kiln.get("config-opts", [])
        for needed in ("-Ddaemons=false", "-Dtests=false", "-Dgui=enabled"):
            if needed not in opts:
                fail(f"kiln: config-opts lacks {needed} (the root side comes from the .deb)")
        known = meson_options(root)
        for opt in opts:
            m = re.fullmatch(r"-D([a-z_]+)=.*", opt)
            if not m or m.group(1) not in known:
                fail(f"kiln: config-opt {opt} is not a meson option of this tree")
        if kiln.get("sources") != [{"type": "dir", "path": ".."}]:
            fail("kiln: the source must be this tree: {type: dir, path: ..}")


def check_flatpak_builder(path, manifest):
    exe = shutil.which("flatpak-builder")
    if not exe:
        fail("flatpak-builder not found (build-aux/install-deps installs it)")
        return
    env = dict(os.environ, G_MESSAGES_DEBUG="")
    r = subprocess.run([exe, "--show-manifest", path], capture_output=True, text=True, env=env)
    if r.returncode != 0 or r.stderr.strip():
        fail(f"flatpak-builder --show-manifest: exit {r.returncode}: {r.stderr.strip()}")
        return
    parsed = json.loads(r.stdout)
    if len(parsed.get("modules", [])) != len(manifest.get("modules", [])):
        fail("flatpak-builder --show-manifest lost modules")
    print(f"ok: flatpak-builder --show-manifest parses it ({len(parsed['modules'])} modules, no warnings)")


def check_gui_only_build(root, manifest):
    opts = [o for o in manifest["modules"][-1].get("config-opts", [])]
    with tempfile.TemporaryDirectory(prefix="kiln-flatpak-build.") as tmp:
        build, dest = os.path.join(tmp, "build"), os.path.join(tmp, "dest")
        for cmd in (
            ["meson", "setup", build, root, "--prefix=/app", *opts],
            ["meson", "compile", "-C", build],
            ["meson", "install", "-C", build, "--destdir", dest],
        ):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                fail(f"{' '.join(cmd[:2])} of the GUI-only build failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
                return
        installed = sorted(
            os.path.relpath(os.path.join(d, f), dest) for d, _, files in os.walk(dest) for f in files
        )
        root_side = [f for f in installed if re.search(r"kilnd|kiln-wg|kiln-gateway|systemd|system\.d|sysusers", f)]
        if root_side:
            fail(f"the GUI-only build installs root-side files: {', '.join(root_side)}")
        for needed in ("app/bin/kiln", "app/libexec/kiln-tray", "app/share/applications/dev.kiln.Kiln.desktop",
                       "app/share/metainfo/dev.kiln.Kiln.metainfo.xml",
                       "app/share/icons/hicolor/scalable/apps/dev.kiln.Kiln.svg"):
            if needed not in installed:
                fail(f"the GUI-only build does not install /{needed}")
        desktop = os.path.join(dest, "app/share/applications/dev.kiln.Kiln.desktop")
        if os.path.exists(desktop) and not re.search(
            r"^MimeType=.*x-scheme-handler/firezone-fd0020211111;", open(desktop).read(), re.M
        ):
            fail("dev.kiln.Kiln.desktop lacks MimeType=x-scheme-handler/firezone-fd0020211111; (sign-in callbacks)")
        print(f"ok: GUI-only build ({' '.join(opts)}) installs {len(installed)} files, none of the root side")
        for f in installed:
            print(f"    /{f}")


def main():
    root = os.path.abspath(sys.argv[1])
    path = os.path.join(root, "flatpak", "dev.kiln.Kiln.json")
    manifest = json.load(open(path))
    check_flatpak_builder(path, manifest)
    check_structure(manifest, root)
    if not failures:
        print("ok: structure (runtime, finish-args, pinned sources, module order, kiln GUI-only)")
        check_gui_only_build(root, manifest)
    if failures:
        print(f"{len(failures)} problem(s) in {path}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
