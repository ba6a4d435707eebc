// Live status without any library: poll the JSON API and patch the page.
(function () {
  "use strict";
  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error(url + ": " + r.status);
      return r.json();
    });
  }
  var table = document.querySelector("table#jobs[data-live]");
  if (table) {
    var tbody = table.querySelector("tbody");
    var cell = function (text) { var td = document.createElement("td"); td.textContent = text; return td; };
    var newRow = function (j) {  // same columns as _jobs_table.html
      var tr = document.createElement("tr");
      tr.dataset.job = j.id;
      var a = document.createElement("a");
      a.href = "/jobs/" + j.id; a.textContent = j.id;
      var first = document.createElement("td"); first.appendChild(a); tr.appendChild(first);
      tr.appendChild(cell(j.bundle_sha256.slice(0, 10)));
      tr.appendChild(cell(j.variant || "default"));
      tr.appendChild(cell(j.device)); tr.appendChild(cell(j.accelerator));
      tr.appendChild(cell(j.threads)); tr.appendChild(cell(j.runs));
      var st = cell(j.status); st.className = "status"; tr.appendChild(st);
      var pr = document.createElement("td"); pr.className = "progress";
      pr.innerHTML = '<progress max="1" value="0"></progress> <span class="stage"></span>';
      tr.appendChild(pr);
      tr.appendChild(cell(new Date(j.created * 1000).toLocaleString()));
      return tr;
    };
    var tick = function () {
      getJSON("/api/jobs?limit=200").then(function (data) {
        data.jobs.slice().reverse().forEach(function (j) {  // oldest first, so new rows end on top
          var row = table.querySelector('tr[data-job="' + j.id + '"]');
          if (!row) {
            var top = tbody.querySelector("tr[data-job]");
            if (top && Number(top.dataset.job) > j.id) return;  // older than the page shows
            var empty = tbody.querySelector("td.muted");
            if (empty) empty.parentNode.remove();
            row = newRow(j);
            tbody.insertBefore(row, tbody.firstChild);
          }
          var st = row.querySelector(".status");
          st.textContent = j.status;
          st.className = "status st-" + j.status;
          row.querySelector("progress").value = j.progress;
          row.querySelector(".stage").textContent = j.stage || "";
        });
      }).catch(function () {}).finally(function () { setTimeout(tick, 1000); });
    };
    setTimeout(tick, 1000);
  }
  var job = document.getElementById("job");
  if (job && ["queued", "running"].indexOf(job.dataset.status) >= 0) {
    var poll = function () {
      getJSON("/api/jobs/" + job.dataset.jobId).then(function (j) {
        document.getElementById("job-status").textContent = j.status;
        document.getElementById("job-status").className = "status st-" + j.status;
        document.getElementById("job-progress").value = j.progress;
        document.getElementById("job-stage").textContent = j.stage || "";
        if (["queued", "running"].indexOf(j.status) < 0) { location.reload(); return; }
        setTimeout(poll, 700);
      }).catch(function () { setTimeout(poll, 2000); });
    };
    setTimeout(poll, 700);
  }
})();
