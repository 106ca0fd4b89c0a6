<#
.SYNOPSIS
  Remove what installers\windows\install.ps1 made: the venv in the prefix, the icon and the Start
  menu shortcut listed in its install-manifest.txt. Your library, settings and models are kept.
  UNTESTED on Windows (see install.ps1); mirrors installers/linux/uninstall.sh.

.EXAMPLE
  powershell -ExecutionPolicy Bypass -File installers\windows\uninstall.ps1 -Yes
#>
param(
    [string]$Prefix = $(if ($env:LIPE_PREFIX) { $env:LIPE_PREFIX } else { Join-Path $env:LOCALAPPDATA "Programs\LIPE Desktop" }),
    [switch]$Yes
)
$ErrorActionPreference = "Stop"
function Say($msg) { Write-Host "[lipe-uninstall] $msg" }

if (-not (Test-Path $Prefix)) { Say "nothing installed at $Prefix"; exit 0 }
$Prefix = (Resolve-Path $Prefix).Path
$Manifest = Join-Path $Prefix "install-manifest.txt"
# Refuse to delete a folder the installer did not make (a typo in -Prefix must not cost a folder).
if (-not (Test-Path $Manifest)) {
    Write-Host "[lipe-uninstall] error: $Prefix has no install-manifest.txt, so it was not made by install.ps1: check -Prefix." -ForegroundColor Red
    exit 1
}
if (-not $Yes) {
    $answer = Read-Host "Remove LIPE Desktop from $Prefix? [y/N]"
    if ($answer -notmatch "^(y|yes)$") { Say "cancelled"; exit 1 }
}
foreach ($path in Get-Content $Manifest) {
    if ($path -and (Test-Path -LiteralPath $path -PathType Leaf)) { Remove-Item -LiteralPath $path -Force; Say "removed $path" }
}
foreach ($made in "venv", "lipe-desktop.ico", "install-manifest.txt") {
    $p = Join-Path $Prefix $made
    if (Test-Path -LiteralPath $p) { Remove-Item -LiteralPath $p -Recurse -Force }
}
if (-not (Get-ChildItem -LiteralPath $Prefix -Force)) { Remove-Item -LiteralPath $Prefix -Force; Say "removed $Prefix" }
else { Say "removed $Prefix\venv (kept other files in $Prefix)" }
Say "kept your library, settings and models (delete them from the app's data folder if you want them gone)"
