// Tells the server the browser's time zone (a cookie), so that times are shown in it.
"use strict";
(function () {
  let zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (error) { return; }
  if (!zone || zone.length > 64) return;
  const current = document.cookie.split("; ").find((c) => c.startsWith("centime_tz="));
  if (current === "centime_tz=" + encodeURIComponent(zone)) return;
  document.cookie = "centime_tz=" + encodeURIComponent(zone) +
    "; path=/; max-age=31536000; samesite=lax";
})();
