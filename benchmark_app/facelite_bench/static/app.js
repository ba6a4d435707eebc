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
    var tick = function () {
      getJSON("/api/jobs?limit=200").then(function (data) {
        data.jobs.forEach(function (j) {
          var row = table.querySelector('tr[data-job="' + j.id + '"]');
          if (!row) return;
          var st = row.querySelector(".status");
          st.textContent = j.status;
          st.className = "status st-" + j.status;
          row.querySelector("progress").value = j.progress;
          row.querySelector(".stage").textContent = j.stage || "";
        });
        if (data.jobs.length && data.jobs[0].id > Number((table.querySelector("tr[data-job]") || {dataset: {job: 0}}).dataset.job)) {
          location.reload();  // new jobs arrived
        }
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
