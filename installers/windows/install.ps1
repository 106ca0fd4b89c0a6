<#
.SYNOPSIS
  Install LIPE Desktop from this checkout: a private venv, the right torch build (CUDA when an NVIDIA
  driver answers, CPU otherwise), the app (editable: it runs from this folder) and a Start menu
  shortcut. Safe to run again: it reuses the venv and skips what is already right.

  UNTESTED: no Windows machine was available where this was written. It mirrors
  installers/linux/install.sh (tested in CI) step by step; please report problems.

.EXAMPLE
  powershell -ExecutionPolicy Bypass -File installers\windows\install.ps1
  powershell -ExecutionPolicy Bypass -File installers\windows\install.ps1 -Torch cpu -DryRun
#>
param(
    [string]$Prefix = $(if ($env:LIPE_PREFIX) { $env:LIPE_PREFIX } else { Join-Path $env:LOCALAPPDATA "Programs\LIPE Desktop" }),
    [ValidateSet("auto", "cpu", "cuda", "skip")]
    [string]$Torch = $(if ($env:LIPE_TORCH) { $env:LIPE_TORCH } else { "auto" }),
    [string]$TorchSpec = $env:LIPE_TORCH_SPEC,     # default: the torch pinned in requirements-lock.txt
    [string]$TorchIndex = $env:LIPE_TORCH_INDEX,   # "pip" = pip's own configuration
    [string]$CudaTag = $env:LIPE_CUDA_TAG,         # e.g. cu128; default from the driver's CUDA version
    [string]$Extras = $(if ($env:LIPE_EXTRAS) { $env:LIPE_EXTRAS } else { "gui" }),
    [string]$Python = $env:LIPE_PYTHON,
    [switch]$NoShortcut,
    [switch]$DryRun
)
# Native tools report failure by exit code (checked below); "Stop" would turn any stderr line of a
# redirected native command (pip warnings, Qt messages) into a terminating error in PowerShell 5.1.
$ErrorActionPreference = "Continue"
function Say($msg) { Write-Host "[lipe-install] $msg" }
function Die($msg) { Write-Host "[lipe-install] error: $msg" -ForegroundColor Red; exit 1 }
function Run($exe, [string[]]$argv) {
    & $exe @argv
    if ($LASTEXITCODE -ne 0) { Die "'$exe $($argv -join ' ')' failed (exit $LASTEXITCODE): see the output above." }
}

$Repo = (Resolve-Path (Join-Path $PSScriptRoot "..\..")).Path
if (-not (Test-Path (Join-Path $Repo "pyproject.toml"))) { Die "no pyproject.toml in ${Repo}: run this from a LIPE Desktop checkout." }
# Every package at the tested version (requirements-lock.txt); torch at the locked version in the build this machine needs.
$Lock = Join-Path $Repo "requirements-lock.txt"
if (-not (Test-Path $Lock)) { Die "no requirements-lock.txt in ${Repo}: restore it with 'git checkout requirements-lock.txt'." }
if (-not $TorchSpec) { $TorchSpec = (Select-String -Path $Lock -Pattern '^(torch==\S+)').Matches[0].Groups[1].Value }

# --- interpreter: the py launcher's newest 3.10+, else python on PATH ---------------------------------
function Test-Python([string[]]$cmd) {
    try {
        $exe = $cmd[0]; $rest = @($cmd | Select-Object -Skip 1)
        & $exe @rest -c "import sys, venv; sys.exit(sys.version_info < (3, 10))" 2>$null
        return $LASTEXITCODE -eq 0
    } catch { return $false }
}
$PyCmd = $null
if ($Python) { $PyCmd = @($Python) }
else {
    foreach ($v in "3.13", "3.12", "3.11", "3.10") {
        if ((Get-Command py -ErrorAction SilentlyContinue) -and (Test-Python @("py", "-$v"))) { $PyCmd = @("py", "-$v"); break }
    }
    if (-not $PyCmd -and (Test-Python @("python"))) { $PyCmd = @("python") }
}
if (-not $PyCmd -or -not (Test-Python $PyCmd)) { Die "no Python >= 3.10 found: install it from python.org (tick 'Add to PATH') or pass -Python." }

# --- which torch ----------------------------------------------------------------------------------
$DriverCuda = $null
$smi = Get-Command nvidia-smi -ErrorAction SilentlyContinue
if ($smi) {
    $out = & $smi.Source 2>$null
    if ($LASTEXITCODE -eq 0) {
        $m = [regex]::Match(($out -join "`n"), "CUDA Version:\s*(\d+)\.(\d+)")
        $DriverCuda = if ($m.Success) { [version]"$($m.Groups[1].Value).$($m.Groups[2].Value)" } else { [version]"12.8" }
    }
}
if ($Torch -eq "auto") { $Torch = if ($DriverCuda) { "cuda" } else { "cpu" } }
if ($Torch -eq "cuda" -and -not $CudaTag) {
    $v = if ($DriverCuda) { $DriverCuda } else { [version]"12.8" }
    if ($v -ge [version]"13.0") { $CudaTag = "cu130" }
    elseif ($v -ge [version]"12.8") { $CudaTag = "cu128" }
    elseif ($v -ge [version]"12.6") { $CudaTag = "cu126" }
    else { Die "the NVIDIA driver supports CUDA $v, older than 12.6: update the driver, or pass -CudaTag / -Torch cpu." }
}
if (-not $TorchIndex) {
    if ($Torch -eq "cpu") { $TorchIndex = "https://download.pytorch.org/whl/cpu" }
    elseif ($Torch -eq "cuda") { $TorchIndex = "https://download.pytorch.org/whl/$CudaTag" }
}
$TorchArgs = @()
if ($TorchIndex -and $TorchIndex -ne "pip") { $TorchArgs = @("--index-url", $TorchIndex) }
$Venv = Join-Path $Prefix "venv"
$AppTarget = if ($Extras) { "$Repo[$Extras]" } else { $Repo }

Say "repo:   $Repo"
Say "prefix: $Prefix (venv: $Venv)"
Say "python: $($PyCmd -join ' ')"
Say "nvidia driver: $(if ($DriverCuda) { "CUDA $DriverCuda" } else { 'none' })"
Say "torch:  mode=$Torch spec=$TorchSpec$(if ($CudaTag) { " cuda_tag=$CudaTag" }) index=$(if ($TorchIndex) { $TorchIndex } else { 'n/a' })"
Say "app:    pip install -c $Lock -e $AppTarget"
if ($DryRun) { Say "dry run: nothing changed."; exit 0 }

# --- venv -----------------------------------------------------------------------------------------
New-Item -ItemType Directory -Force -Path $Prefix -ErrorAction Stop | Out-Null
$VPy = Join-Path $Venv "Scripts\python.exe"
$reuse = $false
if (Test-Path $VPy) { & $VPy -c "import pip" 2>$null; $reuse = ($LASTEXITCODE -eq 0) }
if ($reuse) { Say "reusing venv $Venv" }
else {
    Say "creating venv $Venv"
    if (Test-Path $Venv) { Remove-Item -Recurse -Force $Venv -ErrorAction Stop }
    $exe = $PyCmd[0]; $rest = @($PyCmd | Select-Object -Skip 1)
    Run $exe ($rest + @("-m", "venv", $Venv))
}
$PipExtra = @(); if ($env:LIPE_PIP_ARGS) { $PipExtra = $env:LIPE_PIP_ARGS -split "\s+" | Where-Object { $_ } }
function Pip-Install([string[]]$argv) { Run $VPy (@("-m", "pip", "install", "--disable-pip-version-check") + $PipExtra + $argv) }
# pip and the build tools at the locked versions (the app is built with them: --no-build-isolation)
Pip-Install @("--quiet", "-c", $Lock, "pip", "setuptools", "wheel", "scikit-build-core")

# --- torch ----------------------------------------------------------------------------------------
if ($Torch -ne "skip") {
    $state = & $VPy (Join-Path $Repo "installers\common\torch_state.py") $TorchSpec $Torch 2>$null
    if ($LASTEXITCODE -ne 0) { $state = "missing" }
    switch ($state) {
        "ok" { Say "torch already installed, keeping it" }
        "other" {
            Say "replacing the installed torch with the $Torch build"
            Run $VPy @("-m", "pip", "uninstall", "-y", "-q", "torch")
            Pip-Install ($TorchArgs + @($TorchSpec))
        }
        default { Say "installing $TorchSpec ($Torch build)"; Pip-Install ($TorchArgs + @($TorchSpec)) }
    }
}

# --- the app --------------------------------------------------------------------------------------
Say "installing LIPE Desktop from $Repo"
Pip-Install @("--quiet", "--no-build-isolation", "-c", $Lock, "-e", $AppTarget)
$Lipe = Join-Path $Venv "Scripts\lipe.exe"
& $Lipe --version | Out-Null
if ($LASTEXITCODE -ne 0) { Die "the installed 'lipe' does not start: see the pip output above." }

# --- Start menu shortcut with the icon (rendered from the SVG by Qt) --------------------------------
$Manifest = Join-Path $Prefix "install-manifest.txt"
$lines = @()
if (-not $NoShortcut) {
    $Ico = Join-Path $Prefix "lipe-desktop.ico"
    $env:QT_QPA_PLATFORM = "offscreen"
    $render = "import sys`nfrom PySide6.QtGui import QGuiApplication, QImage, QPainter`nfrom PySide6.QtSvg import QSvgRenderer`n" +
              "app = QGuiApplication([])`nimg = QImage(256, 256, QImage.Format.Format_ARGB32)`nimg.fill(0)`n" +
              "p = QPainter(img)`nQSvgRenderer(sys.argv[1]).render(p)`np.end()`nsys.exit(0 if img.save(sys.argv[2], 'ICO') else 1)"
    & $VPy -c $render (Join-Path $Repo "resources\icons\lipe-desktop.svg") $Ico 2>$null
    $haveIcon = ($LASTEXITCODE -eq 0)
    Remove-Item Env:\QT_QPA_PLATFORM
    $Programs = [Environment]::GetFolderPath("Programs")
    $Lnk = Join-Path $Programs "LIPE Desktop.lnk"
    $shell = New-Object -ComObject WScript.Shell
    $sc = $shell.CreateShortcut($Lnk)
    $sc.TargetPath = Join-Path $Venv "Scripts\lipe-desktop.exe"
    $sc.WorkingDirectory = $env:USERPROFILE
    $sc.Description = "Photo album that learns a subject's identity and edits its pose"
    if ($haveIcon) { $sc.IconLocation = "$Ico,0" }
    $sc.Save()
    $lines += $Lnk
    Say "Start menu shortcut: $Lnk"
}
Set-Content -Path $Manifest -Value $lines -Encoding UTF8 -ErrorAction Stop
Say "done: $(& $Lipe --version)"
Say "start it from the Start menu or with: $(Join-Path $Venv 'Scripts\lipe-desktop.exe')"
Say "uninstall: installers\windows\uninstall.ps1 -Prefix `"$Prefix`""
