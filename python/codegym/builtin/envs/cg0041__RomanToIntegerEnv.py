import gymnasium
import ast
import json

SYMBOL_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class RomanToIntegerEnv(gymnasium.Env):
    """Convert a Roman numeral to its integer value: I=1, V=5, X=10, L=50, C=100, D=500, M=1000,
    and a symbol written before a larger one is subtracted (IV = 4, CM = 900), otherwise added.
    Observe shows the numeral; look up symbols with SymbolValue, accumulate with AddToTotal and
    GetTotal (ResetTotal starts over) and submit the value as an integer with Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.SYMBOL_VALUE = 1
        self.ADD_TO_TOTAL = 2
        self.GET_TOTAL = 3
        self.RESET_TOTAL = 4
        self.DONE = 5
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "SymbolValue": self.SYMBOL_VALUE,
            "AddToTotal": self.ADD_TO_TOTAL,
            "GetTotal": self.GET_TOTAL,
            "ResetTotal": self.RESET_TOTAL,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@", 1)[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "RomanToIntegerEnv@"
        if not env_str.startswith(prefix):
            return None
        return RomanToIntegerEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.s = str(options.get("s", ""))
        # running total accumulated with AddToTotal
        self.total = 0
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        values = [SYMBOL_VALUES[ch] for ch in self.s]
        result = 0
        for i, v in enumerate(values):
            if i + 1 < len(values) and v < values[i + 1]:
                result -= v
            else:
                result += v
        return result

    def step(self, action: str):
        self.step_count += 1
        try:
            try:
                call_dict = json.loads(action)
            except (TypeError, ValueError):
                raise ValueError("action is not a valid JSON string")
            if not isinstance(call_dict, dict):
                raise ValueError("action must be a JSON object")
            if "name" not in call_dict:
                raise ValueError("function call doesn't have `name`")
            if "parameters" not in call_dict:
                raise ValueError("function call doesn't have `parameters`")
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if not isinstance(action_name, str) or action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            if not isinstance(params, dict):
                raise ValueError("`parameters` must be a JSON object")
            action_code = self.func_mapping[action_name]

            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.SYMBOL_VALUE:
                if "symbol" in params:
                    msg = self.SymbolValue(params["symbol"])
                else:
                    msg = "Error: 'symbol' parameter is missing for SymbolValue action."
            elif action_code == self.ADD_TO_TOTAL:
                if "amount" in params:
                    msg = self.AddToTotal(params["amount"])
                else:
                    msg = "Error: 'amount' parameter is missing for AddToTotal action."
            elif action_code == self.GET_TOTAL:
                msg = self.GetTotal()
            elif action_code == self.RESET_TOTAL:
                msg = self.ResetTotal()
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for Done action."
            else:
                msg = f"Error: Invalid action: {action_name}"
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    # --- tools ---
    def Observe(self):
        r"""
        Return the Roman numeral whose integer value is wanted. Symbols: I=1, V=5, X=10,
        L=50, C=100, D=500, M=1000; a symbol written before a larger one is subtracted
        (IV = 4, CM = 900), otherwise it is added.

        Returns:
            str: the Roman numeral, JSON-encoded.

        Example Output:
            "\"MCMXCIV\""
        """
        return json.dumps(self.s)

    def SymbolValue(self, symbol):
        r"""
        Return the value of a single Roman symbol.

        Args:
            symbol (str): one of "I", "V", "X", "L", "C", "D", "M".

        Returns:
            str: the symbol's value as an integer.

        Example Output:
            "100"
        """
        if not isinstance(symbol, str):
            raise ValueError("parameter 'symbol' must be a one-character string")
        if symbol not in SYMBOL_VALUES:
            raise ValueError(f"unknown Roman symbol {json.dumps(symbol)}; expected one of IVXLCDM")
        return str(SYMBOL_VALUES[symbol])

    def AddToTotal(self, amount):
        r"""
        Add the signed contribution of one symbol to the running total: +value if the symbol
        is added, -value if it is subtracted (it stands before a larger symbol).

        Args:
            amount (int): plus or minus a symbol value (1, 5, 10, 50, 100, 500 or 1000).

        Returns:
            str: the running total after the addition.

        Example Output:
            "1900"
        """
        amount = _require_int(amount, "amount")
        if abs(amount) not in SYMBOL_VALUES.values():
            raise ValueError(f"amount {amount} is not plus or minus a Roman symbol value")
        self.total += amount
        return str(self.total)

    def GetTotal(self):
        r"""
        Return the running total accumulated with AddToTotal (0 at the start).

        Returns:
            str: the running total as an integer.

        Example Output:
            "1994"
        """
        return str(self.total)

    def ResetTotal(self):
        r"""
        Set the running total back to 0, e.g. to start over after a mistake.

        Returns:
            str: the running total, 0.

        Example Output:
            "0"
        """
        self.total = 0
        return str(self.total)

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the integer value of the Roman numeral.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 1994, reference answer: 1994, result: correct, reward=1"
        """
        answer = _require_int(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        s = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        values = [
            int(self.step(json.dumps({"name": "SymbolValue", "parameters": {"symbol": ch}}))[1]) for ch in s
        ]
        for i, v in enumerate(values):
            sign = -1 if i + 1 < len(values) and v < values[i + 1] else 1
            self.step(json.dumps({"name": "AddToTotal", "parameters": {"amount": sign * v}}))
        total = int(self.step(json.dumps({"name": "GetTotal", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": total}}))[1]


if __name__ == "__main__":
    env = RomanToIntegerEnv.from_env_str('RomanToIntegerEnv@{"s": "MCMXCIV"}')
    print(env.solve())
    print("step count:", env.step_count)
    env = RomanToIntegerEnv.from_env_str('RomanToIntegerEnv@{"s": "III"}')
    print(env.solve())
    print("step count:", env.step_count)
