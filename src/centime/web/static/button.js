// The centime pay button, served by the platform. A merchant's page embeds:
//   <script src="__ORIGIN__/pay/button.js" data-merchant="mer_..." data-amount="0.05"
//           data-asset="USD" data-description="This article" data-label="Pay 0.05" defer></script>
// It draws a "Pay 0.05" link to the hosted page, where the customer confirms, or pays in one
// click within a spending budget it approved for this merchant earlier.
"use strict";
(function () {
  const script = document.currentScript;
  if (!script) return;
  const d = script.dataset;
  const query = new URLSearchParams({ merchant: d.merchant || "", amount: d.amount || "",
    asset: d.asset || "USD", description: d.description || "",
    back: window.location.href.slice(0, 500) });  // where "Back to the site" returns
  const link = document.createElement("a");
  link.href = "__ORIGIN__/pay/button?" + query.toString();
  link.className = "centime-pay";
  // data-label: the merchant's own words, in its page's language ("5센트 결제").
  link.textContent = d.label || "Pay " + (d.amount || "");
  link.style.cssText = ("display:inline-block;padding:.6em 1.2em;border-radius:999px;" +
    "background:#4f46e5;color:#fff;font:600 1rem system-ui,sans-serif;text-decoration:none");
  script.after(link);
})();
