console.log("unit gateway");
