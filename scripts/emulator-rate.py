#!/usr/bin/env python3
"""Measures the emulator's page rate with curl, as the README quotes it.

Usage: target/release/auditbridge emulate --listen 127.0.0.1:19700 --generate 100000 &
       scripts/emulator-rate.py [base-url]

It reads the first page's continuation mark, writes the mark of every later page
into one curl config, and lets a single curl process fetch them all over one
keep-alive connection, so curl's start-up cost is paid once.
"""
import base64, json, re, subprocess, sys, tempfile, time, os

base = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:19700") + "/netwrix/api/v1/activity_records/enum"
tmp = tempfile.mkdtemp()
for fmt in ["xml", "json"]:
    q = "?format=json" if fmt == "json" else ""
    first = subprocess.run(["curl", "-s", base + q], capture_output=True, check=True).stdout
    if fmt == "json":
        mark = json.loads(first)["ContinuationMark"]
    else:
        mark = re.search(rb"<ContinuationMark>(.*?)</ContinuationMark>", first).group(1).decode()
    raw = base64.b64decode(mark)
    pos = re.search(rb's="(\d+)"', raw)
    blocks = []
    for i in range(1, 100):
        shifted = raw[: pos.start(1)] + str(i * 1000).zfill(len(pos.group(1))).encode() + raw[pos.end(1) :]
        token = base64.b64encode(shifted).decode()
        if fmt == "json":
            body = json.dumps(token)
        else:
            body = ('<?xml version="1.0" standalone="yes"?><ContinuationMark '
                    f'xmlns="http://schemas.netwrix.com/api/v1/activity_records/">{token}</ContinuationMark>')
        path = os.path.join(tmp, f"mark{i}")
        with open(path, "w") as f:
            f.write(body)
        blocks.append(f'url = "{base + q}"\ndata-binary = "@{path}"\noutput = "/dev/null"\n'
                      'write-out = "%{http_code} %{size_download}\\n"\n')
    cfg = os.path.join(tmp, "curl.cfg")
    with open(cfg, "w") as f:
        f.write("next\n".join(blocks))
    start = time.time()
    lines = subprocess.run(["curl", "-s", "-K", cfg], capture_output=True, check=True).stdout.decode().split()
    elapsed = time.time() - start
    codes, sizes = lines[0::2], [int(s) for s in lines[1::2]]
    assert set(codes) == {"200"}, codes
    print(f"{fmt}: {len(codes)} pages of 1,000 records, {len(codes) / elapsed:.0f} pages/s, "
          f"{sum(sizes) / elapsed / 1e6:.0f} MB/s")
