// The browser bundle's one export: the JsSIP library as the global `JsSIP`.
module.exports = require("jssip");
