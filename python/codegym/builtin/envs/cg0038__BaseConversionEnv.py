import gymnasium
import ast
import json

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class BaseConversionEnv(gymnasium.Env):
    """Write a non-negative integer n in a base from 2 to 36, using the digits 0-9 then A-Z (A =
    10, ..., Z = 35), most significant digit first, with no leading zeros or prefix ("0" for n =
    0). Observe shows n and the base; get digits with DivMod, build the string with PrependDigit
    (ClearDigits starts over) and submit it as a string with Done, e.g. "FF" for 255 in base 16."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.DIV_MOD = 1
        self.PREPEND_DIGIT = 2
        self.CLEAR_DIGITS = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "DivMod": self.DIV_MOD,
            "PrependDigit": self.PREPEND_DIGIT,
            "ClearDigits": self.CLEAR_DIGITS,
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
        prefix = "BaseConversionEnv@"
        if not env_str.startswith(prefix):
            return None
        return BaseConversionEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.n = int(options.get("n", 0))
        self.base = int(options.get("base", 2))
        # digit string built so far with PrependDigit (most significant digit first)
        self.digits = ""
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        n, base = self.n, self.base
        if n == 0:
            return "0"
        out = []
        while n > 0:
            out.append(DIGITS[n % base])
            n //= base
        return "".join(reversed(out))

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
            elif action_code == self.DIV_MOD:
                if "a" in params:
                    msg = self.DivMod(params["a"])
                else:
                    msg = "Error: 'a' parameter is missing for DivMod action."
            elif action_code == self.PREPEND_DIGIT:
                if "value" in params:
                    msg = self.PrependDigit(params["value"])
                else:
                    msg = "Error: 'value' parameter is missing for PrependDigit action."
            elif action_code == self.CLEAR_DIGITS:
                msg = self.ClearDigits()
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
        Return the non-negative integer n and the target base (2..36). The task is to write
        n in that base with digits 0-9 then A-Z (A = 10, ..., Z = 35), most significant
        digit first, without leading zeros ("0" for n = 0).

        Returns:
            str: JSON object with keys "n" and "base".

        Example Output:
            "{\"n\": 255, \"base\": 16}"
        """
        return json.dumps({"n": self.n, "base": self.base})

    def DivMod(self, a):
        r"""
        Divide a non-negative integer by the task's base: returns the quotient and the
        remainder. The remainder is the lowest digit of a in that base.

        Args:
            a (int): a non-negative integer.

        Returns:
            str: JSON list [quotient, remainder].

        Example Output:
            "[15, 15]"
        """
        a = _require_int(a, "a")
        if a < 0:
            raise ValueError(f"parameter 'a' must be non-negative, got {a}")
        return json.dumps([a // self.base, a % self.base])

    def PrependDigit(self, value):
        r"""
        Put the digit character for a digit value in front of the digit string built so
        far (digits are found lowest first, so each new one goes to the front).

        Args:
            value (int): a digit value, 0..base-1.

        Returns:
            str: the digit string built so far, JSON-encoded.

        Example Output:
            "\"FF\""
        """
        value = _require_int(value, "value")
        if value < 0 or value >= self.base:
            raise ValueError(f"digit value {value} out of range 0..{self.base - 1}")
        self.digits = DIGITS[value] + self.digits
        return json.dumps(self.digits)

    def ClearDigits(self):
        r"""
        Discard the digit string built so far, so that it can be built again from scratch.

        Returns:
            str: the (empty) digit string, JSON-encoded.

        Example Output:
            "\"\""
        """
        self.digits = ""
        return json.dumps(self.digits)

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode. Letters may be upper or lower case.

        Args:
            answer (str): n written in the target base, e.g. "FF".

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: FF, reference answer: FF, result: correct, reward=1"
        """
        if not isinstance(answer, str):
            raise ValueError("parameter 'answer' must be a string of digits, e.g. \"FF\"")
        ref_answer = self.get_ref_answer()
        correct = answer.strip().upper() == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        task = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        a = task["n"]
        digits = ""
        while True:
            q, r = json.loads(self.step(json.dumps({"name": "DivMod", "parameters": {"a": a}}))[1])
            built = self.step(json.dumps({"name": "PrependDigit", "parameters": {"value": r}}))[1]
            digits = json.loads(built)
            a = q
            if a == 0:
                break
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": digits}}))[1]


if __name__ == "__main__":
    env = BaseConversionEnv.from_env_str('BaseConversionEnv@{"n": 255, "base": 16}')
    print(env.solve())
    print("step count:", env.step_count)
    env = BaseConversionEnv.from_env_str('BaseConversionEnv@{"n": 0, "base": 2}')
    print(env.solve())
    print("step count:", env.step_count)
