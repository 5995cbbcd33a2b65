"use strict";
// The gateway page's script: calls through the gateway with fetch() and shows the JSON.
// A gateway key given in the page's URL (?$key=...) is sent along as a header.

const pageKey = new URLSearchParams(location.search).get("$key") || "";

function element(id) {
    return document.getElementById(id);
}

function callHeaders(oneway) {
    const headers = {};
    const key = element("call-key").value || pageKey;
    if (key) headers["X-Pyro-Gateway-Key"] = key;
    if (oneway) headers["X-Pyro-Options"] = "oneway";
    return headers;
}

// The url and fetch() options for a call; "as" is "get", "form" or "json".
function callRequest(name, method, args, as, oneway) {
    const path = encodeURIComponent(name) + "/" + encodeURIComponent(method).replace("%24", "$");
    const init = {method: as === "get" ? "GET" : "POST", headers: callHeaders(oneway)};
    let url = path;
    if (as === "get") {
        if (args) url += "?" + new URLSearchParams(args).toString();
    } else if (as === "form") {
        init.body = new URLSearchParams(args || "").toString();
        init.headers["Content-Type"] = "application/x-www-form-urlencoded";
    } else {
        init.body = args || "{}";
        init.headers["Content-Type"] = "application/json";
    }
    return {url: url, init: init};
}

function fetchCode(url, init) {
    const shown = Object.assign({}, init);
    if (shown.method === "GET") delete shown.method;
    if (Object.keys(shown.headers).length === 0) delete shown.headers;
    const options = Object.keys(shown).length ? ", " + JSON.stringify(shown, null, 2) : "";
    const absolute = new URL(url, location.href).pathname + new URL(url, location.href).search;
    return "const reply = await fetch(" + JSON.stringify(absolute) + options + ");\n" +
        "const result = await reply.json();  // 200: the result, else the error as an exception object";
}

async function pyroFetch(name, method, args, as, oneway) {
    let request;
    try {
        request = callRequest(name, method, args, as, oneway);
    } catch (error) {
        element("pyro_status").textContent = "not sent: " + error;
        return;
    }
    element("pyro_call").textContent = request.init.method + " " +
        new URL(request.url, location.href).pathname + new URL(request.url, location.href).search +
        (request.init.body ? "\n\n" + request.init.body : "");
    element("fetch-code").textContent = fetchCode(request.url, request.init);
    element("pyro_status").textContent = "waiting...";
    element("pyro_response").textContent = "";
    try {
        const reply = await fetch(request.url, request.init);
        const text = await reply.text();
        element("pyro_status").textContent = reply.status + " " + reply.statusText +
            "   X-Pyro-Correlation-Id: " + reply.headers.get("X-Pyro-Correlation-Id");
        let shown = text;
        if (!text) {
            shown = "(empty: a oneway call has no result)";
        } else {
            try {
                shown = JSON.stringify(JSON.parse(text), null, 4);
            } catch (error) {
                // not JSON: show it as it came
            }
        }
        element("pyro_response").textContent = shown;
        element("pyro_response").className = reply.ok ? "" : "error";
    } catch (error) {
        element("pyro_status").textContent = "ERROR: " + error;
    }
}

// Pyro4's page function: pyro_call("http.example", "echo", {message: "hi"}).
function pyro_call(name, method, params) {
    return pyroFetch(name, method, params ? new URLSearchParams(params).toString() : "", "get", false);
}

// The methods of every listed object, read from the table.
function listedMembers() {
    const members = {};
    for (const link of document.querySelectorAll("#objects a.method")) {
        (members[link.dataset.object] = members[link.dataset.object] || []).push(link.dataset.member);
    }
    return members;
}

function fillOptions(list, values) {
    list.replaceChildren(...values.map((value) => {
        const option = document.createElement("option");
        option.value = value;
        return option;
    }));
}

function setUp() {
    const members = listedMembers();
    fillOptions(element("object-names"), Object.keys(members));
    const showMethods = () => fillOptions(element("method-names"), members[element("call-object").value] || []);
    element("call-object").addEventListener("input", showMethods);
    element("call-key").value = pageKey;

    for (const link of document.querySelectorAll("#objects a")) {
        link.addEventListener("click", (event) => {
            event.preventDefault();
            const name = link.dataset.object;
            const member = link.dataset.member;
            if (link.classList.contains("method")) {
                // a method: put it in the form, for the person to add arguments and call
                element("call-object").value = name;
                showMethods();
                element("call-method").value = member;
                element("call-oneway").checked = link.classList.contains("oneway");
                element("call-args").focus();
            } else {
                pyroFetch(name, member, "", "get", false);  // metadata or an attribute: read it now
            }
        });
    }

    element("call-form").addEventListener("submit", (event) => {
        event.preventDefault();
        pyroFetch(element("call-object").value, element("call-method").value, element("call-args").value,
                  element("call-as").value, element("call-oneway").checked);
    });
}

setUp();
