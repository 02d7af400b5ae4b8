@echo off
rem apr: build on Windows with MSVC (run from a "x64 Native Tools Command Prompt").
rem   build.bat          the drivers: apr-chat.exe apr-bench.exe apr-server.exe apr-quantize.exe
rem   build.bat cuda     also apr_cuda.dll (needs the CUDA Toolkit's nvcc on the PATH)
rem   build.bat test     the drivers and the test programs, then runs the tests
setlocal enabledelayedexpansion
set CFLAGS=/nologo /O2 /W3 /std:c11 /D_CRT_SECURE_NO_WARNINGS /I.
for %%d in (chat bench server quantize) do (
  if exist drivers\%%d.c (
    cl %CFLAGS% /Feapr-%%d.exe drivers\%%d.c ws2_32.lib || exit /b 1
  )
)
if /I "%1"=="cuda" (
  where nvcc >nul 2>nul || (echo nvcc not found: apr runs on the CPU & exit /b 0)
  nvcc -O3 -std=c++17 --use_fast_math -cudart static -shared -o apr_cuda.dll apr_cuda.cu ^
       -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90a,code=sm_90a ^
       -gencode arch=compute_90,code=compute_90 || exit /b 1
)
if /I "%1"=="test" (
  if not exist tests\bin mkdir tests\bin
  set failed=0
  for %%t in (tests\test_*.c) do (
    cl %CFLAGS% /Fetests\bin\%%~nt.exe /Fotests\bin\ %%t ws2_32.lib || exit /b 1
    tests\bin\%%~nt.exe || set failed=1
  )
  if !failed!==1 (echo some tests failed & exit /b 1)
)
endlocal
